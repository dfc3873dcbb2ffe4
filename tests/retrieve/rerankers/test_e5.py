from zhiku.retrieve.rerankers.e5 import E5Reranker

PROBATION = "《中华人民共和国劳动合同法》第十九条：劳动合同期限三个月以上不满一年的，试用期不得超过一个月；三年以上固定期限和无固定期限的劳动合同，试用期不得超过六个月。"
DIVORCE = "《中华人民共和国民法典》第一千零七十七条：自婚姻登记机关收到离婚登记申请之日起三十日内，任何一方不愿意离婚的，可以向婚姻登记机关撤回离婚登记申请。"


def test_relevant_passage_scores_higher():
    r = E5Reranker()
    a, b = r.score("公司说试用期要半年，合法吗？", [DIVORCE, PROBATION])
    assert b > a
    c, d = r.score("离婚冷静期是多久", [DIVORCE, PROBATION])
    assert c > d


def test_empty():
    assert E5Reranker().score("试用期", []) == []
